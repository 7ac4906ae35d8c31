# 단말 피드백: 앱이나 단말이 요청 뒤에 보여 주거나 읽어 주는 말.
device-alert-accepted = 도움이 가고 있습니다.
device-location-received = 위치를 보냈습니다.
device-cancelled = 신고가 취소되었습니다.
device-refused = 접수되지 않았습니다: 가능하면 112에 전화하세요.
