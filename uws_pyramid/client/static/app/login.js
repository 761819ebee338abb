// The login page: posts the form with fetch to show a refusal here, or follows the service's
// redirect to the page the user came from.
import { UWSClient, UWSError } from "../uws.js";
import { byId, status } from "./dom.js";
import { clientConfig, errorText, header, params } from "./common.js";

// Not the pages' client: a refused password is shown here, not sent on to the login page.
const client = new UWSClient();

async function logIn(event) {
  event.preventDefault();
  const form = byId("login");
  const formError = byId("form-error");
  const button = byId("submit");
  formError.hidden = true;
  button.disabled = true;
  try {
    const body = new URLSearchParams(new FormData(form));
    const response = await client.send(form.action, { method: "POST", body });
    // Logged in: the session cookie is set and fetch followed the 303 to ``next``.
    if (response.redirected) {
      location.replace(response.url);
      return;
    }
    throw await UWSError.of(response, form.action);
  } catch (error) {
    formError.textContent = error.status === 401 ? `Not logged in: ${error.message}` : errorText(error);
    formError.hidden = false;
    byId("password").value = "";
    byId("password").focus();
  } finally {
    button.disabled = false;
  }
}

async function setUp() {
  header("login");
  byId("next").value = params.get("next") || "";
  byId("login").addEventListener("submit", logIn);
  byId("username").focus();
  try {
    const config = await clientConfig();
    if (!config.login) {
      byId("login").hidden = true;
      status("This service keeps no accounts: there is nobody to log in as.", "error");
    }
    if (config.user) status(`You are logged in as ${config.user}; log in again to change user.`);
    byId("anonymous").hidden = !config.anonymous || Boolean(config.user);
    document.body.dataset.loaded = "true";
  } catch (error) {
    status(errorText(error), "error");
  }
}

setUp();
