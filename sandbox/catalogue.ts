/**
 * Every exception code and status text the sandbox answers with, worded as KSeF words them: the error tables and
 * status descriptions of open-api.json (CIRFMF/ksef-api) and the docs of CIRFMF/ksef-docs named beside each group.
 * Use sites take codes and statuses from here; only the details (which name the request's own values) are written
 * where they arise.
 */
import type { StatusInfo as KsefStatusInfo } from '../shared/protocol/types';

/** Statuses of operations and sessions; only an invoice's status carries `extensions`. */
export type StatusInfo = Omit<KsefStatusInfo, 'extensions'>;

/** The exception codes of 400 answers (ExceptionResponse / BadRequestProblemDetails) with their descriptions. */
export const EXCEPTIONS = {
  // POST /auth/xades-signature (open-api.json; auth/podpis-xades.md)
  9101: 'Nieprawidłowy dokument.',
  9102: 'Brak podpisu.',
  9103: 'Przekroczona liczba dozwolonych podpisów.',
  9105: 'Nieprawidłowy podpis.',
  21001: 'Nieczytelna treść.',
  21115: 'Nieprawidłowy certyfikat.',
  21117: 'Nieprawidłowy identyfikator podmiotu dla wskazanego typu kontekstu.',
  21217: 'Nieprawidłowe kodowanie znaków.',
  21401: 'Dokument nie jest zgodny ze schemą (xsd).',
  21406: 'Konflikt podpisu i typu uwierzytelnienia.',
  // Authentication, sessions, invoices, paging (open-api.json)
  21111: 'Nieprawidłowe wyzwanie autoryzacyjne.',
  21155: 'Przekroczono dozwoloną liczbę faktur w sesji.',
  21157: 'Nieprawidłowy rozmiar części pakietu.',
  21161: 'Przekroczono dozwoloną liczbę części pakietu.',
  21164: 'Faktura o podanym identyfikatorze nie istnieje.',
  21165: 'Faktura o podanym numerze KSeF nie jest jeszcze dostępna.',
  21173: 'Brak sesji o wskazanym numerze referencyjnym.',
  21178: 'Nie znaleziono UPO dla podanych kryteriów.',
  21180: 'Status sesji nie pozwala na wykonanie operacji.',
  21183: 'Zakres filtrowania wykracza poza dostępny zakres danych.',
  21184: 'Sesja tymczasowo niedostępna.',
  21205: 'Pakiet nie może być pusty.',
  21208: 'Czas oczekiwania na requesty upload lub finish został przekroczony.',
  21301: 'Brak autoryzacji.',
  21304: 'Brak uwierzytelnienia.',
  21402: 'Nieprawidłowy rozmiar pliku.',
  21403: 'Nieprawidłowy skrót pliku.',
  21405: 'Błąd walidacji danych wejściowych.',
  21418: 'Przekazany token kontynuacji ma nieprawidłowy format.',
  21470: 'Przesłany identyfikator klucza jest nieznany lub wskazuje na wycofany klucz.',
  // Invoice exports (open-api.json: POST /invoices/exports, GET /invoices/exports/{referenceNumber})
  21175: 'Wynik zapytania o podanym identyfikatorze nie istnieje.',
  21182: 'Osiągnięto limit trwających eksportów.',
  // KSeF certificates (open-api.json; certyfikaty-KSeF.md)
  25001: 'Brak możliwości pobrania danych do CSR dla wykorzystanego sposobu uwierzytelnienia.',
  25002: 'Brak możliwości złożenia wniosku certyfikacyjnego dla wykorzystanego sposobu uwierzytelnienia.',
  25003: 'Dane w CSR nie zgadzają się z danymi w użytym wektorze uwierzytelniającym.',
  25004: 'Niepoprawny format CSR lub niepoprawny podpis CSR.',
  25005: 'Wniosek certyfikacyjny o podanym numerze referencyjnym nie istnieje.',
  25006: 'Osiągnięto limit możliwych do złożenia wniosków certyfikacyjnych.',
  25007: 'Osiągnięto limit dopuszczalnej liczby posiadanych certyfikatów.',
  25008: 'Certyfikat o podanym numerze seryjnym nie istnieje.',
  25009: 'Nie można odwołać wskazanego certyfikatu, ponieważ jest już odwołany, zablokowany lub nieważny.',
  25010: 'Nieprawidłowy typ lub długość klucza.',
  25011: 'Nieprawidłowy algorytm podpisu CSR.',
  // KSeF tokens (open-api.json; tokeny-ksef.md)
  26001: 'Nie można nadać tokenowi uprawnień których nie posiadasz.',
  26002: 'Nie można wygenerować tokena dla obecnego typu kontekstu.',
} as const;

export type ExceptionCode = keyof typeof EXCEPTIONS;

/** The `detail` texts of the problem+json answers (401, 403, 405, 410, 429, 500; open-api.json *ProblemDetails). */
export const PROBLEM_DETAILS = {
  badRequest: 'Żądanie jest nieprawidłowe.',
  authenticationRequired: 'Wymagane jest uwierzytelnienie.',
  invalidToken: 'Nieprawidłowy lub wygasły token.',
  missingPermissions: 'Brak wymaganych uprawnień do wykonania operacji w bieżącym kontekście.',
  authMethodNotAllowed: 'Ta operacja nie jest dostępna dla użytej metody uwierzytelnienia.',
  ipNotAllowed: 'Żądanie pochodzi z adresu IP innego niż wskazany podczas uwierzytelnienia.',
  gone: 'Operacja wygasła i nie jest już dostępna.',
  methodNotAllowed: (method: string, allow: string[]) =>
    `Metoda ${method} nie jest obsługiwana dla tego zasobu; dozwolone: ${allow.join(', ')}.`,
  /** KSeF's 429 names the exceeded window and when to retry (limity/limity-api.md). */
  tooManyRequests: (max: number, window: 'perSecond' | 'perMinute' | 'perHour', retryAfterSeconds: number) =>
    `Przekroczono limit ${max} żądań na ${RATE_WINDOW_UNITS[window]}. Spróbuj ponownie po ${retryAfterSeconds} ${retryAfterSeconds === 1 ? 'sekundzie' : 'sekundach'}.`,
  internalError: 'Nieznany błąd.',
} as const;

const RATE_WINDOW_UNITS = { perSecond: 'sekundę', perMinute: 'minutę', perHour: 'godzinę' } as const;

/** Why a certificate failed authentication: the details of status 460 (open-api.json). */
export type CertificateProblem =
  'Nieważny certyfikat' | 'Niezaufany łańcuch certyfikatów' | 'Certyfikat odwołany' | 'Niepoprawny certyfikat';

/** `AuthenticationOperationStatusResponse.status` (open-api.json; uwierzytelnianie.md, auth/sesje.md). */
export const AUTH_STATUS = {
  inProgress: { code: 100, description: 'Uwierzytelnianie w toku' },
  succeeded: { code: 200, description: 'Uwierzytelnianie zakończone sukcesem' },
  badToken: (detail: string): StatusInfo => ({
    code: 450,
    description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędnego tokenu',
    details: [detail],
  }),
  noPermissions: {
    code: 415,
    description: 'Uwierzytelnianie zakończone niepowodzeniem',
    details: ['Brak przypisanych uprawnień'],
  } as StatusInfo,
  badCertificate: (detail: CertificateProblem): StatusInfo => ({
    code: 460,
    description: 'Uwierzytelnianie zakończone niepowodzeniem z powodu błędu certyfikatu',
    details: [detail],
  }),
  revoked: {
    code: 425,
    description: 'Uwierzytelnienie unieważnione',
    details: ['Uwierzytelnienie i powiązane refresh tokeny zostały unieważnione przez użytkownika'],
  } as StatusInfo,
} as const;

/** The details of a 450 authentication status for a KSeF token (AuthenticationOperationStatusResponse, open-api.json 2.8.1). */
export const BAD_TOKEN_DETAILS = {
  encryption: 'Nieprawidłowe szyfrowanie tokena',
  unknown: 'Nieprawidłowy token',
  otherContext: (context: string) => `Token nie może być użyty w kontekście ${context}`,
  timestamp: 'Nieprawidłowy czas tokena',
  revoked: 'Token unieważniony',
  inactive: 'Token nieaktywny',
} as const;

/** `SessionStatusResponse.status` of an online session (open-api.json; sesja-interaktywna.md). */
export const SESSION_STATUS = {
  open: { code: 100, description: 'Sesja interaktywna otwarta' },
  closed: { code: 170, description: 'Sesja interaktywna zamknięta' },
  succeeded: { code: 200, description: 'Sesja interaktywna przetworzona pomyślnie' },
  keyDecryptionFailed: { code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' },
  cancelledNoInvoices: { code: 440, description: 'Sesja anulowana', details: ['Nie przesłano faktur'] },
  noValidInvoices: { code: 445, description: 'Błąd weryfikacji, brak poprawnych faktur' },
} satisfies Record<string, StatusInfo>;

/** `SessionStatusResponse.status` of a batch session (open-api.json; sesja-wsadowa.md). */
export const BATCH_SESSION_STATUS = {
  open: { code: 100, description: 'Sesja wsadowa rozpoczęta' },
  processing: { code: 150, description: 'Trwa przetwarzanie' },
  succeeded: { code: 200, description: 'Sesja wsadowa przetworzona pomyślnie' },
  packageVerificationFailed: { code: 405, description: 'Błąd weryfikacji poprawności dostarczonych elementów paczki' },
  keyDecryptionFailed: { code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' },
  invoiceLimitExceeded: { code: 420, description: 'Przekroczony limit faktur w sesji' },
  decompressionFailed: { code: 430, description: 'Błąd dekompresji pierwotnego archiwum' },
  partDecryptionFailed: { code: 435, description: 'Błąd odszyfrowania zaszyfrowanych części archiwum' },
  uploadTimeExceeded: { code: 440, description: 'Sesja anulowana', details: ['Przekroczono czas wysyłki'] },
  cancelledNoInvoices: { code: 440, description: 'Sesja anulowana', details: ['Nie przesłano faktur'] },
  noValidInvoices: { code: 445, description: 'Błąd weryfikacji, brak poprawnych faktur' },
  unknownError: { code: 500, description: 'Nieznany błąd (500)' },
} satisfies Record<string, StatusInfo>;

/** `SessionInvoiceStatusResponse.status` of an invoice (open-api.json; weryfikacja-faktury.md). */
export const INVOICE_STATUS = {
  accepted: { code: 100, description: 'Faktura przyjęta do dalszego przetwarzania' },
  succeeded: { code: 200, description: 'Sukces' },
  cancelledBySessionError: { code: 405, description: 'Przetwarzanie anulowane z powodu błędu sesji' },
  invalidPermissionScope: { code: 410, description: 'Nieprawidłowy zakres uprawnień' },
  attachmentNotAllowed: { code: 415, description: 'Brak możliwości wysyłania faktury z załącznikiem' },
  fileVerificationError: { code: 430, description: 'Błąd weryfikacji pliku faktury' },
  decryptionFailed: { code: 435, description: 'Błąd odszyfrowania pliku' },
  duplicate: { code: 440, description: 'Duplikat faktury' },
  semanticVerificationError: { code: 450, description: 'Błąd weryfikacji semantyki dokumentu faktury' },
  unknownError: { code: 500, description: 'Nieznany błąd (500)' },
} satisfies Record<string, StatusInfo>;

/** `InvoiceExportStatusResponse.status` of an invoice export (open-api.json; pobieranie-faktur.md). */
export const EXPORT_STATUS = {
  inProgress: { code: 100, description: 'Eksport faktur w toku' },
  succeeded: { code: 200, description: 'Eksport faktur zakończony sukcesem' },
  expired: { code: 210, description: 'Eksport faktur wygasł i nie jest już dostępny do pobrania' },
  keyDecryptionFailed: { code: 415, description: 'Błąd odszyfrowania dostarczonego klucza' },
  outsideDataRange: {
    code: 420,
    description: 'Zakres filtrowania wykracza poza dostępny zakres danych',
    details: ['Parametr dateRange.from jest późniejszy niż PermanentStorageHwmDate przy włączonym restrictToPermanentStorageHwmDate.'],
  },
  unknownError: { code: 500, description: 'Nieznany błąd (500)' },
  cancelledBySystem: {
    code: 550,
    description: 'Operacja została anulowana przez system',
    details: ['Przetwarzanie zostało przerwane z przyczyn wewnętrznych systemu. Spróbuj ponownie'],
  },
} satisfies Record<string, StatusInfo>;

/** `CertificateEnrollmentStatusResponse.status` (open-api.json; certyfikaty-KSeF.md). */
export const ENROLLMENT_STATUS = {
  accepted: { code: 100, description: 'Wniosek przyjęty do realizacji' },
  issued: { code: 200, description: 'Wniosek obsłużony (certyfikat wygenerowany)' },
  rejected: (detail: string): StatusInfo => ({ code: 400, description: 'Wniosek odrzucony', details: [detail] }),
} as const;
