# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = Сообщение от 112
twoway-title-discreet = Новое сообщение

twoway-attacker-present = Нападающий всё ещё там?
twoway-attacker-present-discreet = С вами сейчас кто-нибудь есть?
twoway-safe-now = Вы сейчас в безопасности?
twoway-safe-now-discreet = У вас всё хорошо?
twoway-injured = Есть раненые?
twoway-injured-discreet = Кто-нибудь пострадал?
twoway-people-count = Сколько нападающих?
twoway-people-count-discreet = Сколько человек с вами?
twoway-where = Где вы?
twoway-where-discreet = Где вы сейчас?
twoway-help-coming = Полиция прибудет примерно через { $minutes } мин. Если можете, оставайтесь в укрытии.
twoway-help-coming-discreet = Напоминание: примерно { $minutes } мин.

twoway-answer-yes = Да
twoway-answer-no = Нет
twoway-answer-number = Нажмите число
twoway-preset-inside = В здании
twoway-preset-outside = На улице
twoway-preset-vehicle = В машине
twoway-preset-ok = OK
