# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: вы в безопасности?
welfare-check-body = Рядом с { $area } чрезвычайная ситуация. Вы в безопасности? Ответьте 1, если да, или 2, если нужна помощь.
welfare-safe-reply = Спасибо. Мы отметили, что вы в безопасности.
welfare-help-reply = Помощь организуется. Оставайтесь на месте, если там безопасно.
