/**
 * A friendly JSON view of an FA(3) or FA(2) invoice (schemat_FA(3)_v1-0E.xsd, schemat_FA(2)_v1-0E.xsd of
 * CIRFMF/ksef-docs): parties, dates, currency, lines, VAT summary, totals, payment, the corrected invoice. Money and
 * quantities are exact decimal strings as written in the XML, never floats; what is missing or unparsable is left
 * out, never guessed.
 */

export interface FriendlyParty {
  /** NIP (Polish tax id), when the party has one. */
  nip?: string;
  /** Another identifier: EU VAT number (`kodUE` + `nrVatUE`), a foreign id, or an internal id. */
  vatUe?: string;
  otherId?: string;
  name?: string;
  /** One-line address: AdresL1 and AdresL2 joined. */
  address?: string;
  countryCode?: string;
  email?: string;
  phone?: string;
}

export interface FriendlyThirdParty extends FriendlyParty {
  /** `Rola` code (1 factor, 2 recipient, ..., 11 employee) and its English meaning. */
  role?: number;
  roleMeaning?: string;
}

export interface FriendlyLine {
  /** `NrWierszaFa`. */
  number?: number;
  name?: string;
  quantity?: string;
  unit?: string;
  /** `P_9A` net unit price. */
  netUnitPrice?: string;
  /** `P_9B` gross unit price (invoices priced gross). */
  grossUnitPrice?: string;
  /** `P_11` net value of the line. */
  netAmount?: string;
  /** `P_11A` gross value of the line. */
  grossAmount?: string;
  /** `P_12`: '23', '8', '5', '0 KR', 'zw', 'np I', 'oo', ... as in the XML. */
  vatRate?: string;
  gtin?: string;
  pkwiu?: string;
  cn?: string;
}

export interface FriendlyVatSummary {
  /** The rate as `P_12` writes it ('23', '8', '5', ...) or the exemption's kind ('zw', 'np', 'oo', '0 KR', ...). */
  rate: string;
  net: string;
  /** VAT in the invoice currency, when the invoice states it for this rate. */
  vat?: string;
  /** VAT converted to PLN (`P_14_xW`), for invoices in another currency. */
  vatPln?: string;
}

export interface FriendlyInvoice {
  /** 'FA (3)' or 'FA (2)' (`KodFormularza`) */
  formCode: string;
  /** `RodzajFaktury`: VAT, KOR, ZAL, ROZ, UPR, KOR_ZAL, KOR_ROZ. */
  invoiceType?: string;
  /** `P_2` */
  invoiceNumber?: string;
  /** `P_1`, yyyy-mm-dd */
  issueDate?: string;
  /** `P_1M` */
  placeOfIssue?: string;
  /** `P_6`: date of supply or completion, when it differs from the issue date. */
  saleDate?: string;
  /** `KodWaluty` */
  currency?: string;
  seller: FriendlyParty;
  buyer: FriendlyParty;
  /** `Podmiot3` entries. */
  otherParties: FriendlyThirdParty[];
  /** `PodmiotUpowazniony` */
  authorizedParty?: FriendlyParty & { role?: number };
  lines: FriendlyLine[];
  vatSummary: FriendlyVatSummary[];
  totals: {
    net?: string;
    vat?: string;
    /** `P_15` */
    gross?: string;
  };
  payment?: {
    /** `Zaplacono` = 1 */
    paid?: boolean;
    paidDate?: string;
    dueDates: string[];
    /** `FormaPlatnosci` code and meaning (1 cash, 2 card, ..., 6 transfer, 7 mobile). */
    method?: string;
    methodCode?: number;
    bankAccounts: { number: string; bankName?: string; swift?: string }[];
  };
  /** For a correction: the invoices it corrects and why. */
  correction?: {
    reason?: string;
    correctedInvoices: { invoiceNumber?: string; issueDate?: string; ksefNumber?: string }[];
  };
  /** `Adnotacje/P_17` = 1 (self-invoicing). */
  selfInvoicing?: boolean;
  /** `Zalacznik` present (FA(3)). */
  hasAttachment?: boolean;
}

/** A friendly JSON view of an FA(3)/FA(2) invoice; throws `KsefInputError` when `xml` is not such an invoice. */
export function readInvoiceJson(xml: Buffer | string): FriendlyInvoice {
  void xml;
  throw new Error('readInvoiceJson: being written (issue 9)');
}
