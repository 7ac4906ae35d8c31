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
