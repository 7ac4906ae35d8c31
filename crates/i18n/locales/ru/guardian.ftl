# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = человек, о котором вы заботитесь
guardian-alert-subject = jikimi: сигнал SOS от { $who }
guardian-alert-body = { $who } подал(а) сигнал SOS в { $time }. Центр 112 получил его и принимает меры.
guardian-dispatched-subject = jikimi: полиция едет к { $who }
guardian-dispatched-body = В { $time } к { $who } направлены полицейские.
guardian-closed-subject = jikimi: вызов от { $who } закрыт
guardian-closed-body = Центр 112 закрыл вызов от { $who } в { $time }.
guardian-reference = Номер: { $reference }
guardian-no-reply = Не отвечайте на это сообщение. Если у вас есть полезные сведения, позвоните по номеру 112.
