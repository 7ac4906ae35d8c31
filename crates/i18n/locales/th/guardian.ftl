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
