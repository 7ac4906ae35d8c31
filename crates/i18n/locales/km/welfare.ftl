# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi៖ តើអ្នកមានសុវត្ថិភាពទេ?
welfare-check-body = មានស្ថានភាពបន្ទាន់នៅជិត { $area }។ តើអ្នកមានសុវត្ថិភាពទេ? ឆ្លើយ 1 ប្រសិនបើមានសុវត្ថិភាព ឬ 2 ប្រសិនបើត្រូវការជំនួយ។
welfare-safe-reply = សូមអរគុណ។ យើងបានកត់ត្រាថាអ្នកមានសុវត្ថិភាព។
welfare-help-reply = កំពុងរៀបចំជំនួយ។ សូមនៅកន្លែងដដែល ប្រសិនបើកន្លែងនោះមានសុវត្ថិភាព។
