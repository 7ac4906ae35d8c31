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
