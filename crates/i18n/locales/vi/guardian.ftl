# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = người bạn đang chăm sóc
guardian-alert-subject = jikimi: { $who } đã gửi tín hiệu khẩn cấp SOS
guardian-alert-body = { $who } đã gửi tín hiệu khẩn cấp SOS lúc { $time }. Trung tâm 112 đã tiếp nhận và đang xử lý.
guardian-dispatched-subject = jikimi: cảnh sát đang đến chỗ { $who }
guardian-dispatched-body = Cảnh sát đã được điều đến chỗ { $who } lúc { $time }.
guardian-closed-subject = jikimi: đã kết thúc xử lý tín hiệu của { $who }
guardian-closed-body = Trung tâm 112 đã kết thúc xử lý tín hiệu của { $who } lúc { $time }.
guardian-reference = Mã sự việc: { $reference }
guardian-no-reply = Vui lòng không trả lời tin nhắn này. Nếu bạn có thông tin hữu ích, hãy gọi 112.
