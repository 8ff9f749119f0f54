// What every tab module is, and what the page gives it. A tab builds its view in its panel
// and wires it to window.loupe through the shared runner; anything it needs from the rest of
// the page comes through the context, so the coupling between tabs stays in these few names.

/**
 * A tab module's default export.
 * @typedef {object} Tab
 * @property {string} id  the panel's element id (and `tab-${id}` the button's)
 * @property {string} title  the tab button's text
 * @property {(panel: HTMLElement, context: TabContext) => TabInstance} create
 */

/**
 * What `create` returns: setEnabled, and the hooks the page calls when they apply.
 * @typedef {object} TabInstance
 * @property {(enabled: boolean) => void} setEnabled
 * @property {(info: {config: object}) => void} [onModel]  a model is loaded (again)
 * @property {() => void} [onShow]  the tab was chosen
 * @property {(prediction: {prompt: string, top: {token: string}[]}) => void} [onPrediction]
 *   the page prompt was run: the analyses default to its top-1 (against its top-2)
 * @property {(example: typeof import('../examples.js').IOI_EXAMPLE) => void} [onIoiExample]
 *   the IOI example is on the page: set the tab up for it
 * @property {(message: string) => void} [onSaeLost]  the restarted worker has no SAE
 */

/** A direction the Steering tab takes from another tab (a probe, an SAE feature).
 *  @typedef {{vector: ArrayLike<number> & {map: Function}, layer: number, note: string}} SteeringVector */

/** The Steering tab: the one tab others act on.
 *  @typedef {TabInstance & {setVector(vector: SteeringVector): void}} SteeringTab */

/**
 * @typedef {object} TabContext
 * @property {import('../api.js').Loupe} loupe
 * @property {import('../runner.js').Status} status
 * @property {import('../runner.js').Runner} runner
 * @property {() => import('../runner.js').PromptRequest} prompt  the page prompt
 * @property {(prompt: string) => Promise<void>} usePrompt  puts a prompt on the page and runs it
 * @property {{select(id: string): void, steering(): SteeringTab}} tabs  choose a tab; the
 *   Steering tab's instance
 * @property {(layer: number, head: number) => void} showHead  brings up a head in the attention view
 * @property {string} saeUrl  the folder of the SAE the Features tab loads on first use
 */

export {};
