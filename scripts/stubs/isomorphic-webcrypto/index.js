/* global module */
'use strict';
// fhirclient only falls back to this module when globalThis.crypto is missing; every target of
// this project has the Web Crypto API, so the stand-in can only explain what is missing.
if (!globalThis.crypto || !globalThis.crypto.subtle) {
  throw new Error(
    'The Web Crypto API (globalThis.crypto.subtle) is required: use a current browser over https or localhost',
  );
}
module.exports = { default: globalThis.crypto };
