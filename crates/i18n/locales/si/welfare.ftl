# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: ඔබ ආරක්ෂිතද?
welfare-check-body = { $area } අසල හදිසි තත්ත්වයක් ඇත. ඔබ ආරක්ෂිතද? ආරක්ෂිත නම් 1 ද, උදව් අවශ්‍ය නම් 2 ද ලෙස පිළිතුරු දෙන්න.
welfare-safe-reply = ස්තූතියි. ඔබ ආරක්ෂිත බව අපි සටහන් කළෙමු.
welfare-help-reply = උදව් සූදානම් කරමින් සිටී. එතැන ආරක්ෂිත නම් ඔබ සිටින තැනම රැඳී සිටින්න.
