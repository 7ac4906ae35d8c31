# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = таны асран халамжилдаг хүн
guardian-alert-subject = jikimi: { $who } SOS дуудлага өглөө
guardian-alert-body = { $who } { $time }-д SOS дуудлага өглөө. 112 төв хүлээн авч, арга хэмжээ авч байна.
guardian-dispatched-subject = jikimi: цагдаа { $who } руу явж байна
guardian-dispatched-body = { $time }-д цагдаа { $who } руу илгээгдлээ.
guardian-closed-subject = jikimi: { $who }-ийн дуудлага хаагдлаа
guardian-closed-body = 112 төв { $who }-ийн дуудлагыг { $time }-д хаалаа.
guardian-reference = Дугаар: { $reference }
guardian-no-reply = Энэ мессежид хариу бичих боломжгүй. Тус болох мэдээлэл байвал 112 руу залгана уу.
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
