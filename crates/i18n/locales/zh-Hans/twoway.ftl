# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = 来自 112 的消息
twoway-title-discreet = 新消息

twoway-attacker-present = 袭击者还在那里吗？
twoway-attacker-present-discreet = 现在有人和你在一起吗？
twoway-safe-now = 您现在安全吗？
twoway-safe-now-discreet = 你还好吗？
twoway-injured = 有人受伤吗？
twoway-injured-discreet = 有人不舒服吗？
twoway-people-count = 有几个袭击者？
twoway-people-count-discreet = 有几个人和你在一起？
twoway-where = 您在哪里？
twoway-where-discreet = 你现在在哪儿？
twoway-help-coming = 警察大约 { $minutes } 分钟后到达。如果可以，请藏好。
twoway-help-coming-discreet = 提醒：大约 { $minutes } 分钟。

twoway-answer-yes = 是
twoway-answer-no = 否
twoway-answer-number = 请点一个数字
twoway-preset-inside = 建筑物内
twoway-preset-outside = 室外
twoway-preset-vehicle = 车内
twoway-preset-ok = 好
