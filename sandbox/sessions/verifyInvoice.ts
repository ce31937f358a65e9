/**
 * What KSeF checks when it processes one invoice of a session, and the invoice status it gives a failure
 * (status codes: the invoice status table of open-api.json; rules: faktury/weryfikacja-faktury.md, CIRFMF/ksef-docs).
 * The docs do not map rules to codes; our mapping: file rules, schema and form-code mismatches → 430; issue date
 * after the acceptance day → 450; an invoice whose seller is not the session's context → 410. Duplicates (440)
 * and attachments outside what the session allows (415) depend on the session and the server's state, and are
 * decided by the caller from the returned facts.
 */
import { INVOICE_SCHEMAS, type InvoiceSchema } from '../../shared/protocol/model/formCodes';
import { findSpecFolder } from '../../shared/protocol/spec/specFolder';
import { isFaFamily, schemaMismatch, type InvoiceFacts } from '../../shared/protocol/xml/invoiceFacts';
import { inspectInvoiceXml, type XmlSizeLimits } from '../../shared/protocol/xml/xmlRules';
import { createXsdValidator, hasInvoiceXsd } from '../../shared/protocol/xml/xsd';
import { INVOICE_STATUS } from '../catalogue';
import { warsawDay } from '../dates';

export interface VerifyContext {
  /** Schema of the session (its `formCode`). */
  schema: InvoiceSchema;
  /**
   * NIP of the authenticated context; the seller of FA-family invoices must be this subject. An InternalId
   * (`NIP-12345`) or NipVatUe (`NIP-ATU...`) context value may be passed as is: its NIP part is used.
   */
  contextNip: string;
  /** When KSeF accepted the invoice for processing (`invoicingDate`). */
  acceptedAt: Date;
  /** Spec folder with the official XSDs; default `findSpecFolder()`; `null` skips XSD validation. */
  specDir?: string | null;
  /** Per-context size limits (the `/testdata/limits` overrides); default the KSeF limits. */
  limits?: XmlSizeLimits;
}

export interface InvoiceStatus {
  code: number;
  description: string;
  details: string[];
}

export type VerifyResult =
  | { ok: true; facts: InvoiceFacts; schemaValidated: boolean }
  | { ok: false; status: InvoiceStatus; facts?: InvoiceFacts; schemaValidated: boolean };

/** Appended to the details of a 430 when the sandbox had no XSDs to check the invoice against. */
export const SCHEMA_VALIDATION_SKIPPED_DETAIL =
  'XSD validation was skipped: the sandbox has no KSeF spec folder (set KSEF_SPEC_DIR to the folder containing ksef-docs/).';

/** Whether `verifyInvoice` can validate invoices of `schema` against its official XSD (servers advertise this). */
export function schemaValidationAvailable(specDir?: string | null, schema: InvoiceSchema = 'FA(3)'): boolean {
  const folder = specDir === null ? undefined : findSpecFolder(specDir);
  return !!folder && hasInvoiceXsd(folder, schema);
}

export async function verifyInvoice(xml: Buffer, ctx: VerifyContext): Promise<VerifyResult> {
  const specDir = ctx.specDir === null ? undefined : findSpecFolder(ctx.specDir);
  const schemaValidated = !!specDir && hasInvoiceXsd(specDir, ctx.schema);
  const fileError = (details: string[], facts: InvoiceFacts): VerifyResult => ({
    ok: false,
    status: {
      ...INVOICE_STATUS.fileVerificationError,
      details: schemaValidated ? details : [...details, SCHEMA_VALIDATION_SKIPPED_DETAIL],
    },
    facts,
    schemaValidated,
  });

  // The file rules and the facts in one pass over the text, as the client checks them.
  const { violations, facts } = inspectInvoiceXml(xml, ctx.limits);
  if (violations.length > 0)
    return fileError(
      violations.map((v) => v.message),
      facts,
    );

  const mismatch = schemaMismatch(facts, ctx.schema);
  if (mismatch.length > 0) return fileError(mismatch, facts);

  if (specDir && schemaValidated) {
    const errors = await createXsdValidator(specDir).validateInvoice(xml, ctx.schema);
    if (errors.length > 0) {
      return fileError([`The invoice does not conform to ${INVOICE_SCHEMAS[ctx.schema].logicalStructureName}:`, ...errors], facts);
    }
  }

  const acceptanceDay = warsawDay(ctx.acceptedAt);
  if (facts.issueDate && facts.issueDate > acceptanceDay) {
    return {
      ok: false,
      status: {
        ...INVOICE_STATUS.semanticVerificationError,
        details: [
          `The issue date ${issueDateElement(ctx.schema)} ${facts.issueDate} is later than the day KSeF accepted the invoice (${acceptanceDay}, Polish time). An invoice cannot be issued in the future; send it on or after its issue date.`,
        ],
      },
      facts,
      schemaValidated,
    };
  }

  const contextNip = /^\d{10}(?=-)/.exec(ctx.contextNip)?.[0] ?? ctx.contextNip;
  if (isFaFamily(ctx.schema) && facts.sellerNip !== contextNip) {
    return {
      ok: false,
      status: {
        ...INVOICE_STATUS.invalidPermissionScope,
        details: [
          facts.sellerNip
            ? `The seller NIP in Podmiot1 (${facts.sellerNip}) is not the NIP of the authenticated context (${contextNip}); this context may only issue invoices as that seller. Authenticate in the seller's context or correct Podmiot1/DaneIdentyfikacyjne/NIP.`
            : `The invoice has no seller NIP in Podmiot1/DaneIdentyfikacyjne/NIP; the authenticated context (${contextNip}) may only issue invoices with itself as the seller.`,
        ],
      },
      facts,
      schemaValidated,
    };
  }

  return { ok: true, facts, schemaValidated };
}

function issueDateElement(schema: InvoiceSchema): string {
  if (schema === 'FA_RR(1)') return '(P_4B)';
  return isFaFamily(schema) ? '(P_1)' : '(cbc:IssueDate)';
}
