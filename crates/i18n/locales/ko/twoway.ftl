## 무음 양방향 문자 (이슈 21, 5부): 상황실의 질문을 가입자의 앱이나 단말기에 소리 없이 보여 주고, 한 번의 터치로
## 답하게 한다. 정형 질문마다 보통 문구와 -discreet 문구가 있다. -discreet 문구는 강압 PIN 뒤에 쓰인다:
## 기기를 든 사람이 가해자일 수 있으므로 경찰이나 112를 드러내지 않는 평범한 문구.

twoway-title = 112 메시지
twoway-title-discreet = 새 메시지

twoway-attacker-present = 가해자가 아직 그곳에 있습니까?
twoway-attacker-present-discreet = 지금 누가 같이 있나요?
twoway-safe-now = 지금 안전합니까?
twoway-safe-now-discreet = 괜찮으세요?
twoway-injured = 다친 사람이 있습니까?
twoway-injured-discreet = 다친 사람 있어요?
twoway-people-count = 가해자는 몇 명입니까?
twoway-people-count-discreet = 지금 몇 명이 같이 있나요?
twoway-where = 지금 어디에 있습니까?
twoway-where-discreet = 지금 어디예요?
twoway-help-coming = 경찰이 약 { $minutes }분 뒤 도착합니다. 가능하면 숨어 계세요.
twoway-help-coming-discreet = 알림: 약 { $minutes }분.

twoway-answer-yes = 예
twoway-answer-no = 아니요
twoway-answer-number = 숫자를 누르세요
twoway-preset-inside = 건물 안
twoway-preset-outside = 바깥
twoway-preset-vehicle = 차 안
twoway-preset-ok = 확인
