# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = Mensahe mula sa 112
twoway-title-discreet = Bagong mensahe

twoway-attacker-present = Nandiyan pa ba ang umatake?
twoway-attacker-present-discreet = May kasama ka ba ngayon?
twoway-safe-now = Ligtas ka ba ngayon?
twoway-safe-now-discreet = Okay ka lang ba?
twoway-injured = May nasugatan ba?
twoway-injured-discreet = May nasaktan ba?
twoway-people-count = Ilan ang umatake?
twoway-people-count-discreet = Ilan ang kasama mo?
twoway-where = Nasaan ka?
twoway-where-discreet = Nasaan ka ngayon?
twoway-help-coming = Darating ang pulis sa loob ng mga { $minutes } minuto. Magtago kung kaya mo.
twoway-help-coming-discreet = Paalala: mga { $minutes } minuto.

twoway-answer-yes = Oo
twoway-answer-no = Hindi
twoway-answer-number = Pumindot ng numero
twoway-preset-inside = Sa loob ng gusali
twoway-preset-outside = Sa labas
twoway-preset-vehicle = Sa sasakyan
twoway-preset-ok = OK
