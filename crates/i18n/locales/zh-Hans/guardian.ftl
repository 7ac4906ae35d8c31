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
