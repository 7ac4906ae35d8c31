# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = Sự trợ giúp đang đến.
device-location-received = Đã gửi vị trí.
device-cancelled = Yêu cầu khẩn cấp của bạn đã được hủy.
device-refused = Không được tiếp nhận: hãy gọi 112 nếu có thể.
