# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
# Silent two-way text (see en/twoway.ftl). The -discreet forms are shown after a duress PIN: neutral wording that says
# nothing of police or 112.

twoway-title = សារពី 112
twoway-title-discreet = សារថ្មី

twoway-attacker-present = តើជនវាយប្រហារនៅទីនោះទៀតទេ?
twoway-attacker-present-discreet = ឥឡូវនេះមាននរណានៅជាមួយអ្នកទេ?
twoway-safe-now = តើអ្នកមានសុវត្ថិភាពឥឡូវនេះទេ?
twoway-safe-now-discreet = អ្នកសុខសប្បាយទេ?
twoway-injured = តើមាននរណារងរបួសទេ?
twoway-injured-discreet = មាននរណាឈឺទេ?
twoway-people-count = ជនវាយប្រហារមានប៉ុន្មាននាក់?
twoway-people-count-discreet = មានមនុស្សប៉ុន្មាននាក់នៅជាមួយអ្នក?
twoway-where = តើអ្នកនៅឯណា?
twoway-where-discreet = ឥឡូវអ្នកនៅឯណា?
twoway-help-coming = ប៉ូលិសនឹងមកដល់ក្នុងរយៈពេលប្រហែល { $minutes } នាទី។ សូមលាក់ខ្លួនបើអាច។
twoway-help-coming-discreet = រំលឹក៖ ប្រហែល { $minutes } នាទី។

twoway-answer-yes = បាទ/ចាស
twoway-answer-no = ទេ
twoway-answer-number = ចុចលេខមួយ
twoway-preset-inside = ក្នុងអគារ
twoway-preset-outside = ខាងក្រៅ
twoway-preset-vehicle = ក្នុងរថយន្ត
twoway-preset-ok = យល់ព្រម
