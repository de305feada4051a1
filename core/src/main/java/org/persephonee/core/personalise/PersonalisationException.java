package org.persephonee.core.personalise;

/** Personalisation cannot run on this data or config; the message says why and what to do. */
public class PersonalisationException extends Exception {
    public PersonalisationException(String message) {
        super(message);
    }
}
