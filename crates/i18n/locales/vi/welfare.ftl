# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: bạn có an toàn không?
welfare-check-body = Có tình huống khẩn cấp gần { $area }. Bạn có an toàn không? Trả lời 1 nếu an toàn, 2 nếu cần giúp đỡ.
welfare-safe-reply = Cảm ơn bạn. Chúng tôi đã ghi nhận bạn an toàn.
welfare-help-reply = Chúng tôi đang sắp xếp hỗ trợ. Hãy ở yên tại chỗ nếu nơi đó an toàn.
