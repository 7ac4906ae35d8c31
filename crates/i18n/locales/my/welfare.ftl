# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi- သင် ဘေးကင်းပါသလား။
welfare-check-body = { $area } အနီးတွင် အရေးပေါ်အခြေအနေ ရှိနေသည်။ သင် ဘေးကင်းပါသလား။ ဘေးကင်းလျှင် 1၊ အကူအညီလိုလျှင် 2 ဟု ပြန်ဖြေပါ။
welfare-safe-reply = ကျေးဇူးတင်ပါသည်။ သင် ဘေးကင်းကြောင်း မှတ်တမ်းတင်ပြီးပါပြီ။
welfare-help-reply = အကူအညီ စီစဉ်နေပါသည်။ ဘေးကင်းလျှင် ယခုနေရာတွင်ပင် နေပါ။
