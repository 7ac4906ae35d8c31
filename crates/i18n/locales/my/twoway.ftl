# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = 112 မှ စာ
twoway-title-discreet = စာအသစ်

twoway-attacker-present = တိုက်ခိုက်သူ အဲဒီမှာ ရှိနေသေးလား?
twoway-attacker-present-discreet = အခု တစ်ယောက်ယောက် အတူရှိလား?
twoway-safe-now = အခု ဘေးကင်းရဲ့လား?
twoway-safe-now-discreet = အဆင်ပြေလား?
twoway-injured = ဒဏ်ရာရသူ ရှိလား?
twoway-injured-discreet = တစ်ယောက်ယောက် နာကျင်နေလား?
twoway-people-count = တိုက်ခိုက်သူ ဘယ်နှစ်ယောက်လဲ?
twoway-people-count-discreet = အတူ ဘယ်နှစ်ယောက် ရှိလဲ?
twoway-where = ဘယ်မှာ ရှိလဲ?
twoway-where-discreet = အခု ဘယ်မှာလဲ?
twoway-help-coming = ရဲ ခန့်မှန်း { $minutes } မိနစ်အတွင်း ရောက်မည်။ ဖြစ်နိုင်ရင် ပုန်းနေပါ။
twoway-help-coming-discreet = သတိပေးချက်- ခန့်မှန်း { $minutes } မိနစ်။

twoway-answer-yes = ဟုတ်
twoway-answer-no = မဟုတ်
twoway-answer-number = ဂဏန်းတစ်ခု နှိပ်ပါ
twoway-preset-inside = အဆောက်အအုံအတွင်း
twoway-preset-outside = အပြင်
twoway-preset-vehicle = ကားထဲ
twoway-preset-ok = OK
