# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = 112 बाट सन्देश
twoway-title-discreet = नयाँ सन्देश

twoway-attacker-present = आक्रमणकारी अझै त्यहाँ छ?
twoway-attacker-present-discreet = अहिले तपाईंसँग कोही छ?
twoway-safe-now = के तपाईं अहिले सुरक्षित हुनुहुन्छ?
twoway-safe-now-discreet = तपाईं ठीक हुनुहुन्छ?
twoway-injured = कोही घाइते छ?
twoway-injured-discreet = कसैलाई चोट लागेको छ?
twoway-people-count = आक्रमणकारी कति जना छन्?
twoway-people-count-discreet = तपाईंसँग कति जना छन्?
twoway-where = तपाईं कहाँ हुनुहुन्छ?
twoway-where-discreet = अहिले कहाँ हुनुहुन्छ?
twoway-help-coming = प्रहरी करिब { $minutes } मिनेटमा आइपुग्छ। सके लुकेर बस्नुहोस्।
twoway-help-coming-discreet = सम्झना: करिब { $minutes } मिनेट।

twoway-answer-yes = हो
twoway-answer-no = होइन
twoway-answer-number = एउटा सङ्ख्या छुनुहोस्
twoway-preset-inside = भवनभित्र
twoway-preset-outside = बाहिर
twoway-preset-vehicle = गाडीमा
twoway-preset-ok = ठीक छ
