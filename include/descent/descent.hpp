// Umbrella header: everything a user of descent needs.
#pragma once
#include "descent/array.hpp"
#include "descent/environment.hpp"
#include "descent/errors.hpp"
#include "descent/io.hpp"
#include "descent/shape.hpp"
