// The one runner every task on the page goes through: it counts tasks in flight (the page's
// controls are enabled only with a model and nothing running, since the worker serves one
// call at a time), reports failures in the status banner, and gives each job with a Stop
// button its own AbortController.

/** @typedef {{setEnabled(enabled: boolean): void}} Control */
/** @typedef {{prompt: string, prependBos: boolean}} PromptRequest */
/** @typedef {ReturnType<typeof import('./views/status.js').createStatus>} Status */
/** A tab's view as a one-shot analysis draws it.
 *  @typedef {{running(): void, show(result: any, ms: number): void, fail(message: string): void}} AnalysisView */
/**
 * A task with a Stop button: `start` gives the task a fresh signal; `stop` aborts the task
 * in progress (a no-op when none is), which then resolves with what it finished.
 * @typedef {object} Job
 * @property {<T>(task: (signal: AbortSignal) => Promise<T>) => Promise<T | undefined>} start
 *   undefined when the task failed (the error is shown)
 * @property {() => void} stop
 * @property {() => AbortSignal} renew  a new signal for the rest of the task: a Stop from
 *   now on ends only what follows
 */

/**
 * @param {{status: Status, prompt: () => PromptRequest, root: HTMLElement}} deps
 *   root carries data-busy and aria-busy (what tests and assistive technology watch)
 */
export function createRunner({ status, prompt, root }) {
  /** @type {Control[]} */
  const controls = [];
  let ready = false; // a model is loaded
  let inFlight = 0; // tasks running (they nest: a layer fetched during a run)

  function refresh() {
    const enabled = ready && inFlight === 0;
    for (const control of controls) control.setEnabled(enabled);
    root.dataset.busy = String(inFlight > 0);
    root.setAttribute('aria-busy', String(inFlight > 0));
  }

  /** Runs `task` with every control disabled.
   *  @template T @param {() => Promise<T>} task @returns {Promise<T>} */
  async function busy(task) {
    inFlight += 1;
    refresh();
    try {
      return await task();
    } finally {
      inFlight -= 1;
      refresh();
    }
  }

  /** Runs `task` busy; on success clears the banner, on failure shows `${title} failed: …`
   *  there and in the view (`fail`), and resolves with undefined.
   *  @template T @param {string} title @param {() => Promise<T>} task
   *  @param {(message: string) => void} [fail] @returns {Promise<T | undefined>} */
  function attempt(title, task, fail) {
    return busy(async () => {
      try {
        const value = await task();
        status.clear();
        return value;
      } catch (error) {
        status.error(`${title} failed: ${error.message}`);
        fail?.(error.message);
        return undefined;
      }
    });
  }

  return {
    /** @param {Control} control  enabled and disabled with the page from now on */
    add(control) {
      controls.push(control);
    },
    /** @param {boolean} value  whether a model is loaded */
    setReady(value) {
      ready = value;
      refresh();
    },
    isReady: () => ready,
    busy,
    attempt,
    /** One analysis of the page prompt: `view` shows that it runs, then the result (with the
     *  time it took) or the error.
     *  @param {AnalysisView} view @param {string} title
     *  @param {(request: PromptRequest) => Promise<any>} task */
    async run(view, title, task) {
      const request = prompt();
      view.running();
      const started = performance.now();
      await attempt(
        title,
        async () => view.show(await task(request), performance.now() - started),
        (message) => view.fail(message),
      );
    },
    /** @param {string} title @param {(message: string) => void} fail @returns {Job} */
    job(title, fail) {
      /** @type {AbortController | null} */
      let controller = null;
      const renew = () => {
        controller = new AbortController();
        return controller.signal;
      };
      return {
        start: (task) => {
          const signal = renew();
          return attempt(title, () => task(signal), fail);
        },
        stop: () => controller?.abort(),
        renew,
      };
    },
  };
}

/** @typedef {ReturnType<typeof createRunner>} Runner */
