// main: starts the console. Restores the session kept in sessionStorage,
// sends the user to the login form when the API ends the session (401) or
// the token's own expiry passes, and renders the page the URL names.
import { html, render } from '../vendor/htm-preact.js';
import { currentSession, forgetToken, onSessionEnded } from './api.js';
import { actions, getState } from './store.js';
import { navigate } from './router.js';
import { App } from './views/app.js';

/** @param {string} why */
function endSession(why) {
  forgetToken();
  actions.sessionEnded(why);
  navigate('/login');
}

onSessionEnded((detail) => endSession(`Your session has ended: ${detail} Log in again.`));

const session = currentSession();
if (session && session.exp * 1000 > Date.now()) actions.sessionStarted(session);
else if (session) endSession('Your session expired. Log in again.');

// A token's expiry is known in advance: end the session when it passes,
// rather than at the next refused request.
setInterval(() => {
  const s = getState().session;
  if (s && s.exp * 1000 <= Date.now()) endSession('Your session expired. Log in again.');
}, 15000);

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
