# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = 112 dan xabar
twoway-title-discreet = Yangi xabar

twoway-attacker-present = Hujumchi hali ham oʻsha yerdami?
twoway-attacker-present-discreet = Hozir yoningizda kimdir bormi?
twoway-safe-now = Hozir xavfsizmisiz?
twoway-safe-now-discreet = Yaxshimisiz?
twoway-injured = Yaralangan bormi?
twoway-injured-discreet = Kimdir shikastlanganmi?
twoway-people-count = Hujumchilar nechta?
twoway-people-count-discreet = Yoningizda necha kishi bor?
twoway-where = Qayerdasiz?
twoway-where-discreet = Hozir qayerdasiz?
twoway-help-coming = Politsiya taxminan { $minutes } daqiqada yetib keladi. Iloji boʻlsa, yashirinib turing.
twoway-help-coming-discreet = Eslatma: taxminan { $minutes } daqiqa.

twoway-answer-yes = Ha
twoway-answer-no = Yoʻq
twoway-answer-number = Sonni bosing
twoway-preset-inside = Bino ichida
twoway-preset-outside = Tashqarida
twoway-preset-vehicle = Mashinada
twoway-preset-ok = OK
