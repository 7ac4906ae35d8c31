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
