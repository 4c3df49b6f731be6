"""connexion's request and response validators, with the contract's patterns read as ECMA-262
(``service.company.validation``): connexion's own run them with Python's ``re``, whose ``$`` lets an id
with a trailing newline through. Given to connexion as its ``validator_map``, its documented
extension point; everything else is connexion's.
"""

from __future__ import annotations

import copy

from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator, Draft4ResponseValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP, JSONRequestBodyValidator, JSONResponseBodyValidator
from connexion.validators import ParameterValidator as _ParameterValidator
from jsonschema import Draft4Validator, ValidationError

from service.company.validation import Draft4, ecma

_Request = ecma(Draft4RequestValidator)
_Response = ecma(Draft4ResponseValidator)
_FORMATS = Draft4Validator.FORMAT_CHECKER


class JSONBody(JSONRequestBodyValidator):
    @property
    def _validator(self):
        return _Request(self._schema, format_checker=_FORMATS)


class JSONResponse(JSONResponseBodyValidator):
    @property
    def validator(self):
        return _Response(self._schema, format_checker=_FORMATS)


class Parameters(_ParameterValidator):
    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        # connexion's own, with the ECMA validator
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            schema = copy.deepcopy(param).get("schema", param)
            try:
                Draft4(schema, format_checker=_FORMATS).validate(value)
            except ValidationError as exception:
                return str(exception)
        elif param.get("required"):
            return f"Missing {parameter_type} parameter '{param['name']}'"
        return None


def validator_map() -> dict:
    body = MediaTypeDict(dict(VALIDATOR_MAP["body"]))
    body["*/*json"] = JSONBody
    response = MediaTypeDict(dict(VALIDATOR_MAP["response"]))
    response["*/*json"] = JSONResponse
    return {"parameter": Parameters, "body": body, "response": response}
