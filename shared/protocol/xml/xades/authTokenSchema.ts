/**
 * XSD validation of an (unsigned) AuthTokenRequest against the official schema read from the spec folder.
 * The 2.0 XSD does not compile in libxml2 (its IP patterns use `\b` and `^…$`, not XSD regex)
 * and 2.1 differs only in those patterns, so 2.0 documents are validated by the 2.1 XSD with the
 * namespace swapped in memory. Neither XSD allows the appended ds:Signature: validate the signature-stripped
 * document.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateXML } from 'xmllint-wasm';
import { findSpecFolder } from '../../spec/specFolder';
import { AUTH_TOKEN_REQUEST_NAMESPACES } from './authTokenRequest';

export const AUTH_TOKEN_XSD_PATH = 'auth/schemy/schemat_auth_v2-1.xsd';

const schemaTexts = new Map<string, string>();

/**
 * The NipVatUe and PeppolId patterns of the official XSDs start with `^` and end with `$`. XSD regexes have no
 * anchors (they always match the whole value), so to libxml2 these are literal characters and the documented
 * examples (`5265877635-ATU12345678`, a Peppol id) fail; .NET, which KSeF runs on, treats them as anchors. Dropping
 * them gives the intended patterns.
 */
export function withoutLiteralAnchors(xsd: string): string {
  return xsd.replace(/(<xsd:pattern value=")\^?([^"]*?)(?<!\\)\$?(")/g, '$1$2$3');
}

/**
 * Schema errors of an unsigned AuthTokenRequest (libxml2 messages, with line numbers); empty when valid;
 * undefined when no spec folder with the auth XSD is available (then only our own value rules apply).
 */
export async function validateAuthTokenRequestXsd(unsignedXml: string, specDir?: string): Promise<string[] | undefined> {
  const folder = findSpecFolder(specDir);
  const xsdFile = folder && path.join(folder, 'ksef-docs', AUTH_TOKEN_XSD_PATH);
  if (!xsdFile || !fs.existsSync(xsdFile)) return undefined;
  let xsd = schemaTexts.get(xsdFile);
  if (xsd === undefined) {
    xsd = withoutLiteralAnchors(await fs.promises.readFile(xsdFile, 'utf8'));
    schemaTexts.set(xsdFile, xsd);
  }
  const asVersion21 = unsignedXml.split(`"${AUTH_TOKEN_REQUEST_NAMESPACES['2.0']}"`).join(`"${AUTH_TOKEN_REQUEST_NAMESPACES['2.1']}"`);
  try {
    const result = await validateXML({
      xml: [{ fileName: 'AuthTokenRequest.xml', contents: asVersion21 }],
      schema: [{ fileName: path.basename(xsdFile), contents: xsd }],
    });
    return result.valid
      ? []
      : result.errors.map((e) => (e.loc ? `Line ${e.loc.lineNumber}: ${e.message}` : e.message).replace(/\{[a-z]+:[^}]*\}/gi, ''));
  } catch (error) {
    // xmllint exits with code 1 when the document is not even well-formed: that is the document's fault.
    const failure = error as Error & { code?: number };
    if (failure.code === 1) return [failure.message.split('\n')[0]];
    throw error;
  }
}
