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
