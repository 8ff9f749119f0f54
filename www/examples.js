// The prompts the page starts from and offers as examples: shared by the page and the tabs
// that set themselves up for them.

export const DEFAULT_PROMPT = 'The Eiffel Tower is located in the city of';
/** The minimal-pair partner of the default prompt: the same sentence about another landmark. */
export const DEFAULT_PAIR = 'The Colosseum is located in the city of';
/** Indirect object identification (Wang et al. 2022): the model should answer " Mary"; the
 *  corrupted prompt swaps the repeated name, so the same circuit now points at " John". */
export const IOI_EXAMPLE = Object.freeze({
  clean: 'When Mary and John went to the store, John gave a drink to',
  corrupted: 'When Mary and John went to the store, Mary gave a drink to',
  token: ' Mary',
  minus: ' John',
});
/** A prompt whose continuation carries a sentiment, for the Steering tab's example direction. */
export const FILM_PROMPT = 'I went to see the film last night and I thought it was';
