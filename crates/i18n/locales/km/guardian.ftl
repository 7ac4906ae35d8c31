# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
guardian-someone = មនុស្សដែលអ្នកមើលថែ
guardian-alert-subject = jikimi៖ { $who } បានផ្ញើសញ្ញាបន្ទាន់ SOS
guardian-alert-body = { $who } បានផ្ញើសញ្ញាបន្ទាន់ SOS នៅម៉ោង { $time }។ មជ្ឈមណ្ឌល 112 បានទទួល ហើយកំពុងចាត់វិធានការ។
guardian-dispatched-subject = jikimi៖ ប៉ូលិសកំពុងទៅរក { $who }
guardian-dispatched-body = ប៉ូលិសត្រូវបានបញ្ជូនទៅរក { $who } នៅម៉ោង { $time }។
guardian-closed-subject = jikimi៖ សញ្ញារបស់ { $who } ត្រូវបានបិទ
guardian-closed-body = មជ្ឈមណ្ឌល 112 បានបិទសញ្ញារបស់ { $who } នៅម៉ោង { $time }។
guardian-reference = លេខយោង៖ { $reference }
guardian-no-reply = សូមកុំឆ្លើយតបសារនេះ។ ប្រសិនបើអ្នកមានព័ត៌មានដែលអាចជួយបាន សូមទូរស័ព្ទទៅ 112។
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
