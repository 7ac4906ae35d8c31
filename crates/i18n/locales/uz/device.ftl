# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = Yordam yetib kelmoqda.
device-location-received = Joylashuv yuborildi.
device-cancelled = Chaqiruvingiz bekor qilindi.
device-refused = Qabul qilinmadi: iloji boʻlsa, 112 ga qoʻngʻiroq qiling.
