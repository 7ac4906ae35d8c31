# 보호자 알림 (이메일, 웹훅). 변수: $who (보호 대상자), $time, $reference.
guardian-someone = 보호 대상자
guardian-alert-subject = [지킴이] { $who }님의 긴급 신고
guardian-alert-body = { $who }님이 { $time }에 긴급(SOS) 신고를 했습니다. 112 상황실이 접수하여 대응하고 있습니다.
guardian-dispatched-subject = [지킴이] { $who }님에게 경찰 출동
guardian-dispatched-body = { $time }에 경찰관이 { $who }님에게 출동했습니다.
guardian-closed-subject = [지킴이] { $who }님의 신고 처리 종료
guardian-closed-body = { $who }님의 신고 처리가 { $time }에 종료되었습니다.
guardian-reference = 사건 번호: { $reference }
guardian-no-reply = 이 메시지에는 회신할 수 없습니다. 도움이 될 정보가 있으면 112로 전화해 주십시오.
