# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = ข้อความจาก 112
twoway-title-discreet = ข้อความใหม่

twoway-attacker-present = ผู้ก่อเหตุยังอยู่ที่นั่นไหม?
twoway-attacker-present-discreet = ตอนนี้มีใครอยู่กับคุณไหม?
twoway-safe-now = ตอนนี้คุณปลอดภัยไหม?
twoway-safe-now-discreet = คุณโอเคไหม?
twoway-injured = มีใครบาดเจ็บไหม?
twoway-injured-discreet = มีใครเจ็บไหม?
twoway-people-count = ผู้ก่อเหตุมีกี่คน?
twoway-people-count-discreet = มีกี่คนอยู่กับคุณ?
twoway-where = คุณอยู่ที่ไหน?
twoway-where-discreet = ตอนนี้คุณอยู่ไหน?
twoway-help-coming = ตำรวจจะมาถึงในประมาณ { $minutes } นาที ซ่อนตัวไว้ถ้าทำได้
twoway-help-coming-discreet = เตือนความจำ: ประมาณ { $minutes } นาที

twoway-answer-yes = ใช่
twoway-answer-no = ไม่ใช่
twoway-answer-number = แตะตัวเลข
twoway-preset-inside = ในอาคาร
twoway-preset-outside = กลางแจ้ง
twoway-preset-vehicle = ในรถ
twoway-preset-ok = ตกลง
