# AWAITS REVIEW BY A NATIVE SPEAKER: a first translation from the English, not yet checked by a native speaker.
welfare-check-subject = jikimi: तपाईं सुरक्षित हुनुहुन्छ?
welfare-check-body = { $area } नजिक आपतकालीन अवस्था छ। तपाईं सुरक्षित हुनुहुन्छ? सुरक्षित हुनुहुन्छ भने 1, सहायता चाहिन्छ भने 2 जवाफ दिनुहोस्।
welfare-safe-reply = धन्यवाद। तपाईं सुरक्षित हुनुहुन्छ भनी हामीले टिपेका छौं।
welfare-help-reply = सहायताको व्यवस्था हुँदैछ। त्यहाँ सुरक्षित छ भने जहाँ हुनुहुन्छ त्यहीँ बस्नुहोस्।
