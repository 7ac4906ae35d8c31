# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
device-alert-accepted = အကူအညီ လာနေပါပြီ။
device-location-received = တည်နေရာ ပို့ပြီးပါပြီ။
device-cancelled = သင့်အရေးပေါ်အချက်ပေးမှုကို ပယ်ဖျက်ပြီးပါပြီ။
device-refused = လက်ခံမရပါ- ဖြစ်နိုင်လျှင် 112 ကို ဖုန်းဆက်ပါ။
