/**
 * SMART App Launch 2.0 entry (launch.html). EHR launch: `iss` + `launch` from the EHR; the `iss`
 * must be on the service's allow-list before anything is sent to it. Standalone launch: the user
 * picks an allowed FHIR server. PKCE S256 is required; tokens stay in sessionStorage (fhirclient's
 * default). Test-only fhirclient parameters that would bypass authorization are refused.
 */
import FHIR from 'fhirclient';
import { issuerAllowed, type SmartAppConfig } from '../smart-config.js';
import { loadAppConfig } from './app-config.js';
import { append, byId, h } from './dom.js';
import { requireSessionStorage, setStatus, showError, UserFacingError } from './status.js';
import './styles.css';

/** fhirclient reads these from the URL and lets them override the app's own options. */
const REFUSED_PARAMS = ['fhirServiceUrl', 'patientId', 'clientId'];

class Refused extends UserFacingError {
  constructor(message: string, advice: string) {
    super(message, advice);
    this.name = 'Refused';
  }
}

async function authorize(config: SmartAppConfig, scope: string, iss?: string): Promise<void> {
  setStatus('loading', `Connecting to ${iss ?? 'the EHR'}…`);
  await FHIR.oauth2.authorize({
    clientId: config.clientId,
    scope,
    redirectUri: './index.html',
    pkceMode: 'required',
    completeInTarget: true,
    ...(iss ? { iss } : {}),
  });
}

/** Standalone launch: the allowed servers not marked EHR-launch only, and the demo patients. */
function chooser(config: SmartAppConfig): void {
  const main = byId('chooser');
  const servers = config.standaloneIssuers.map((iss) =>
    h('li', {}, h('button', { type: 'button', 'data-iss': iss }, 'Sign in to ', h('span', { class: 'url' }, iss))),
  );
  const ehrOnly = config.allowedIssuers.length - config.standaloneIssuers.length;
  main.replaceChildren();
  append(
    main,
    h(
      'section',
      { 'aria-labelledby': 'servers-title' },
      h('h2', { id: 'servers-title' }, 'Open a patient'),
      servers.length > 0
        ? h('ul', { class: 'choices', 'data-testid': 'servers' }, ...servers)
        : h('p', {}, 'No FHIR server is configured for standalone launch. Launch the app from the EHR.'),
      ehrOnly > 0
        ? h(
            'p',
            { class: 'small' },
            `${ehrOnly === 1 ? 'One more server is' : `${ehrOnly} more servers are`} opened from the EHR only.`,
          )
        : null,
    ),
    config.demo
      ? h(
          'section',
          { 'aria-labelledby': 'demo-title' },
          h('h2', { id: 'demo-title' }, 'Demo patients (synthetic, embedded FHIR server)'),
          h(
            'ul',
            { class: 'choices' },
            ...config.demo.patients.map((p) =>
              h('li', {}, h('a', { href: `./index.html?patient=${encodeURIComponent(p.id)}` }, `${p.id}: ${p.label}`)),
            ),
          ),
        )
      : null,
  );
  for (const button of main.querySelectorAll<HTMLButtonElement>('button[data-iss]')) {
    button.addEventListener('click', () => {
      main.hidden = true;
      authorize(config, config.scopes.standalone, button.dataset['iss']).catch((e: unknown) => showError(e));
    });
  }
  main.hidden = false;
  setStatus('ready');
}

async function main(): Promise<void> {
  requireSessionStorage();
  const params = new URLSearchParams(location.search);
  const refused = REFUSED_PARAMS.filter((p) => params.has(p));
  if (refused.length > 0)
    throw new Refused(
      `Launch refused: the parameter ${refused.join(', ')} is not accepted.`,
      'Launch the app from the EHR.',
    );
  const config = await loadAppConfig();
  const iss = params.get('iss');
  if (!iss) {
    chooser(config);
    return;
  }
  if (!issuerAllowed(iss, config.allowedIssuers)) {
    throw new Refused(
      `Launch refused: ${iss} is not an allowed FHIR server.`,
      'Nothing was sent to it. Ask the integration team to add the EHR\u2019s FHIR base URL to SMART_ALLOWED_ISS if it is genuine.',
    );
  }
  if (!params.get('launch'))
    throw new Refused('Launch refused: an EHR launch needs a launch parameter.', 'Open the app from the EHR.');
  await authorize(config, config.scopes.ehr);
}

main().catch((e: unknown) => showError(e));
