package org.llmattrib.gateway;

/** Every error body of the API, and a failed job's error: {@code field} is a JSON path, or null. */
public record ApiError(String code, String message, String field) {}
