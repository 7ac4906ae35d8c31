# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = 112 වෙතින් පණිවිඩයක්
twoway-title-discreet = නව පණිවිඩයක්

twoway-attacker-present = පහරදෙන්නා තවමත් එහි සිටීද?
twoway-attacker-present-discreet = දැන් ඔබ සමඟ කවුරුහරි ඉන්නවාද?
twoway-safe-now = ඔබ දැන් ආරක්ෂිතද?
twoway-safe-now-discreet = ඔබට හොඳින්ද?
twoway-injured = කිසිවෙකු තුවාල ලබා තිබේද?
twoway-injured-discreet = කාටහරි රිදිලාද?
twoway-people-count = පහරදෙන්නන් කී දෙනෙක්ද?
twoway-people-count-discreet = ඔබ සමඟ කී දෙනෙක් ඉන්නවාද?
twoway-where = ඔබ කොහේද?
twoway-where-discreet = දැන් ඔබ කොහේද?
twoway-help-coming = පොලිසිය මිනිත්තු { $minutes } කින් පමණ පැමිණේ. හැකි නම් සැඟවී සිටින්න.
twoway-help-coming-discreet = මතක් කිරීම: මිනිත්තු { $minutes } ක් පමණ.

twoway-answer-yes = ඔව්
twoway-answer-no = නැත
twoway-answer-number = අංකයක් තට්ටු කරන්න
twoway-preset-inside = ගොඩනැගිල්ල ඇතුළත
twoway-preset-outside = පිටත
twoway-preset-vehicle = වාහනයේ
twoway-preset-ok = හරි
