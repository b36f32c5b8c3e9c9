// Errors in the shape Bedrock Runtime (restJson1) sends them: an HTTP status, the error name in
// `x-amzn-errortype` (with the service namespace after a colon, as the real service appends it) and
// `{"message": ...}` as the body. The SDK picks the exception class from that header, so the name must be
// exactly the modeled one for `instanceof ThrottlingException` and friends to hold.

export const ERROR_STATUS = {
  ValidationException: 400,
  AccessDeniedException: 403,
  MissingAuthenticationTokenException: 403,
  IncompleteSignatureException: 403,
  InvalidSignatureException: 403,
  ResourceNotFoundException: 404,
  UnknownOperationException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
  ModelStreamErrorException: 424,
  ThrottlingException: 429,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
} as const;

export type BedrockErrorType = keyof typeof ERROR_STATUS;

/** Appended to the error name in `x-amzn-errortype`; the SDK strips everything from the colon. */
export const ERROR_NAMESPACE = "http://internal.amazon.com/coral/com.amazon.bedrock/";

export class BedrockError extends Error {
  readonly status: number;
  constructor(
    readonly type: BedrockErrorType,
    message: string,
    /** Extra members of the error body (ModelStreamErrorException carries the model's original status). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = type;
    this.status = ERROR_STATUS[type];
  }

  body(): Record<string, unknown> {
    return { message: this.message, ...this.extra };
  }
}

/** Validation errors the model (Anthropic) raises are wrapped like this by Bedrock. */
export function modelValidation(message: string): BedrockError {
  return new BedrockError("ValidationException", `The model returned the following errors: ${message}`);
}

export function validation(message: string): BedrockError {
  return new BedrockError("ValidationException", message);
}
