# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = သင်စောင့်ရှောက်နေသူ
guardian-alert-subject = jikimi- { $who } ထံမှ SOS အရေးပေါ်အချက်ပေးမှု
guardian-alert-body = { $who } သည် { $time } တွင် SOS အရေးပေါ်အချက်ပေးခဲ့သည်။ 112 စင်တာက လက်ခံရရှိပြီး ဆောင်ရွက်နေပါသည်။
guardian-dispatched-subject = jikimi- ရဲများ { $who } ထံ လာနေပါပြီ
guardian-dispatched-body = { $time } တွင် ရဲအရာရှိများကို { $who } ထံ စေလွှတ်ခဲ့သည်။
guardian-closed-subject = jikimi- { $who } ၏ အချက်ပေးမှုကို ပိတ်လိုက်ပြီ
guardian-closed-body = 112 စင်တာက { $who } ၏ အချက်ပေးမှုကို { $time } တွင် ပိတ်လိုက်သည်။
guardian-reference = အမှတ်- { $reference }
guardian-no-reply = ဤစာကို ပြန်မဖြေပါနှင့်။ အကူအညီဖြစ်စေမည့် သတင်းရှိပါက 112 ကို ဖုန်းဆက်ပါ။
