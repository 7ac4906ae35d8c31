# 안부 확인 ("안전하십니까?"): 재난 때 해당 지역 가입자에게 보냅니다. 변수: $area.
welfare-check-subject = [지킴이] 안전하십니까?
welfare-check-body = { $area } 인근에 긴급 상황이 있습니다. 안전하십니까? 안전하면 1, 도움이 필요하면 2를 답해 주십시오.
welfare-safe-reply = 감사합니다. 안전하신 것으로 기록했습니다.
welfare-help-reply = 도움을 준비하고 있습니다. 안전하다면 지금 있는 곳에 머물러 주십시오.
