# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = ผู้ที่คุณดูแล
guardian-alert-subject = jikimi: { $who } แจ้งเหตุฉุกเฉิน SOS
guardian-alert-body = { $who } แจ้งเหตุฉุกเฉิน SOS เมื่อ { $time } ศูนย์ 112 ได้รับเรื่องแล้วและกำลังดำเนินการ
guardian-dispatched-subject = jikimi: ตำรวจกำลังไปหา { $who }
guardian-dispatched-body = ส่งเจ้าหน้าที่ตำรวจไปหา { $who } แล้วเมื่อ { $time }
guardian-closed-subject = jikimi: ปิดเรื่องการแจ้งเหตุของ { $who } แล้ว
guardian-closed-body = ศูนย์ 112 ปิดเรื่องการแจ้งเหตุของ { $who } เมื่อ { $time }
guardian-reference = เลขที่อ้างอิง: { $reference }
guardian-no-reply = โปรดอย่าตอบกลับข้อความนี้ ถ้าคุณมีข้อมูลที่อาจช่วยได้ โปรดโทร 112
# English until translated (disaster notices to guardians).
guardian-welfare-asked-subject = jikimi: { $who } may be in the area of { $area }
guardian-welfare-asked-body = A disaster ({ $area }) was declared at { $time } where { $who } was last known to be. jikimi is asking { $who } whether they are safe; you will be told when they answer.
guardian-welfare-safe-subject = jikimi: { $who } answered that they are safe
guardian-welfare-safe-body = { $who } answered at { $time } that they are safe ({ $area }).
guardian-welfare-need-help-subject = jikimi: { $who } answered that they need help
guardian-welfare-need-help-body = { $who } answered at { $time } that they need help ({ $area }). Rescuers have been told.
guardian-welfare-trapped-subject = jikimi: { $who } answered that they are trapped
guardian-welfare-trapped-body = { $who } answered at { $time } that they are trapped ({ $area }). Rescue teams have been told and go to people in order of urgency.
guardian-welfare-injured-subject = jikimi: { $who } answered that they are injured
guardian-welfare-injured-body = { $who } answered at { $time } that they are injured ({ $area }). Medical teams have been told.
guardian-welfare-silent-subject = jikimi: no answer yet from { $who }
guardian-welfare-silent-body = As of { $time }, { $who } has not answered whether they are safe ({ $area }). If you can reach them, ask them to answer, or call 112.
