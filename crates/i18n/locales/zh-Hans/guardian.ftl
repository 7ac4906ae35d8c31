# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = 您照顾的人
guardian-alert-subject = jikimi：{ $who } 发出了紧急求救
guardian-alert-body = { $who } 于 { $time } 发出了紧急（SOS）求救。112 指挥中心已收到并正在处理。
guardian-dispatched-subject = jikimi：警察正赶往 { $who } 处
guardian-dispatched-body = 警察已于 { $time } 出动前往 { $who } 处。
guardian-closed-subject = jikimi：{ $who } 的求救已结案
guardian-closed-body = 112 指挥中心已于 { $time } 结束 { $who } 的求救处理。
guardian-reference = 案件编号：{ $reference }
guardian-no-reply = 请勿回复此消息。如有可提供帮助的信息，请拨打 112。
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
