// assets: third-party code the console loads only when a page needs it
// (Swagger UI, uPlot): a classic script and its stylesheet from
// public/vendor/, each loaded once, whoever asks first.

/** @type {Map<string, Promise<void>>} */
const loads = new Map();

/**
 * @param {string} script URL of the script
 * @param {string} stylesheet URL of its stylesheet
 * @param {string} what its name, for the error
 * @returns {Promise<void>}
 */
export function loadAssets(script, stylesheet, what) {
  let p = loads.get(script);
  if (!p) {
    p = new Promise((resolve, reject) => {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = stylesheet;
      document.head.append(css);
      const s = document.createElement('script');
      s.src = script;
      s.onload = () => resolve();
      s.onerror = () => {
        loads.delete(script);
        reject(new Error(`${what} could not be loaded (${script}). Run make ui-deps.`));
      };
      document.head.append(s);
    });
    loads.set(script, p);
  }
  return p;
}
