// Umbrella header: everything a user of descent needs.
#pragma once
#include "descent/array.hpp"
#include "descent/checkpoint.hpp"
#include "descent/dual_array.hpp"
#include "descent/environment.hpp"
#include "descent/errors.hpp"
#include "descent/initializer.hpp"
#include "descent/io.hpp"
#include "descent/layers.hpp"
#include "descent/loss.hpp"
#include "descent/module.hpp"
#include "descent/optimizer.hpp"
#include "descent/shape.hpp"
