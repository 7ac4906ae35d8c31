# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = ความช่วยเหลือกำลังไป
device-location-received = ส่งตำแหน่งแล้ว
device-cancelled = ยกเลิกการแจ้งเหตุของคุณแล้ว
device-refused = ไม่ได้รับเรื่อง: โปรดโทร 112 ถ้าทำได้
