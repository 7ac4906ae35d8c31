# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: คุณปลอดภัยไหม
welfare-check-body = มีเหตุฉุกเฉินใกล้ { $area } คุณปลอดภัยไหม ตอบ 1 ถ้าปลอดภัย ตอบ 2 ถ้าต้องการความช่วยเหลือ
welfare-safe-reply = ขอบคุณ เราบันทึกแล้วว่าคุณปลอดภัย
welfare-help-reply = กำลังจัดความช่วยเหลือ โปรดอยู่ที่เดิมถ้าที่นั่นปลอดภัย
